-- Scenario tests for the angry-review alert (`crescent test`).

scenario("an angry review in Spanish reaches customer care", function()
  identify("lu", { email = "lu@example.com" })
  local r = track("lu", "Product Reviewed", { product_id = "SKU-1", rating = 1, review_body = "Horrible, llegó roto y tarde, muy mal" })
  expect(r:hit("promotion:angry_review_alert")):to_be(true)
  expect(#r:actions_of("alert", "promotion:angry_review_alert")):to_be(1)
end)

scenario("an angry review in English reaches customer care, without marketing consent", function()
  identify("max", {})
  local r = track("max", "Product Reviewed", { product_id = "SKU-2", rating = 2, review_body = "Terrible, broke me out, very disappointed" })
  expect(r:hit("promotion:angry_review_alert")):to_be(true)
end)

scenario("a happy review, or a negated complaint, raises nothing", function()
  identify("ivy", {})
  expect(track("ivy", "Product Reviewed", { product_id = "SKU-3", rating = 5, review_body = "Love it, my skin feels amazing" })
    :hit("promotion:angry_review_alert")):to_be(false)
  expect(track("ivy", "Product Reviewed", { product_id = "SKU-4", rating = 4, review_body = "Not bad at all, no complaints" })
    :hit("promotion:angry_review_alert")):to_be(false)
end)
