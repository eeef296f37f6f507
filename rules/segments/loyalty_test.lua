-- Scenario tests for the loyalty tiers and the real-time upgrade notice (`crescent test`).

scenario("a purchase that lifts a customer into gold tells them at once, with a coupon", function()
  identify("ana", { email = "ana@example.com", marketing_consent = true })
  local first = order("ana", "o1", 250)
  expect(first.entered):to_contain("silver")
  local second = order("ana", "o2", 300)
  expect(second.entered):to_contain("gold")
  expect(second.exited):to_contain("silver")
  expect(second:hit("promotion:tier_upgrade"), "tier upgrade"):to_be(true)
  expect(#second:actions_of("coupon", "promotion:tier_upgrade"), "gold coupon"):to_be(1)
  -- The notice lists the new tier's benefits (plugins/loyalty.lua).
  local notice = second:actions_of("notify", "promotion:tier_upgrade")[1]
  expect(notice.data.tier):to_be("gold")
  expect(notice.data.benefits, "gold benefits"):to_contain("early access to launches")
  expect(customer("ana").segments.gold):to_be(true)
end)

scenario("no notice without marketing consent, and the reason is recorded", function()
  identify("bo", { email = "bo@example.com" })
  local r = order("bo", "o1", 600)
  expect(r.entered):to_contain("gold")
  expect(r:result("promotion:tier_upgrade").outcome):to_be("suppressed")
  expect(r:result("promotion:tier_upgrade").reason):to_be("no marketing consent")
end)

scenario("spend older than a year no longer counts: the nightly sweep takes gold away", function()
  order("cy", "o1", 600)
  expect(customer("cy").segments.gold):to_be(true)
  advance("400d")
  expect(customer("cy").segments.gold):to_be(nil)
  expect(customer("cy").segments.churned):to_be(true)
end)
