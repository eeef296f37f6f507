-- Scenario tests for the fraud rules and the policy (`crescent test`).

scenario("a first order over 1000 from a throwaway address on mismatched countries is blocked", function()
  identify("mallory", { email = "m@mailinator.com" })
  local r = order("mallory", "f1", 2500, {
    card_fingerprint = "fp-1", billing_country = "US", shipping_country = "ES", ip_country = "RU",
  })
  expect(r.decision):to_be("block")
  expect(r.score):to_be_at_least(80)
  expect(r:hit("fraud:disposable_email")):to_be(true)
  expect(r:hit("fraud:high_value_first_order")):to_be(true)
end)

scenario("an ordinary order is allowed", function()
  identify("ann", { email = "ann@example.com" })
  local r = order("ann", "ok1", 40, { card_fingerprint = "fp-ann", billing_country = "ES", shipping_country = "ES" })
  expect(r.decision):to_be("allow")
  expect(r.score):to_be(0)
end)

scenario("a card used again and again within the hour is reviewed", function()
  local last
  for i = 1, 4 do
    last = order("buyer" .. i, "v" .. i, 30, { card_fingerprint = "shared-card" })
    advance("5m")
  end
  expect(last:hit("fraud:card_velocity")):to_be(true)
  expect(last.reasons):to_contain("card used 4 times in the last hour")
end)
