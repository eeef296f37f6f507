-- Scenario tests for the review request after a purchase (`crescent test`).

scenario("the review request names the order and its products, a week after it", function()
  identify("fay", { marketing_consent = true, timezone = "UTC" })
  advance("9h")
  order("fay", "o-fay", 45, { products = { { sku = "SKU-1", price = 20, quantity = 1 }, { sku = "SKU-2", price = 25, quantity = 1 } } })
  advance("7d")
  local ask = sent("journey:review_request")[1]
  expect(ask.template):to_be("review_request")
  expect(ask.data.order):to_be("o-fay")
  expect(ask.data.products):to_contain("SKU-2")
end)
