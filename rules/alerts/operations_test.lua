-- Scenario tests for the market alerts (`crescent test`).

scenario("a competitor's launch in a category we sell reaches pricing, with our prices beside it", function()
  track("shopper", "Product Viewed", { sku = "SKU-A", name = "Day Cream", category = "skincare", price = 20 })
  track("shopper", "Product Viewed", { sku = "SKU-B", name = "Night Cream", category = "skincare", price = 40 })
  local r = track("price-watch", "Competitor Product Launched",
                  { competitor = "rival.example", name = "Velvet Glow Serum", category = "skincare", price = 24.99 })
  expect(r:hit("promotion:competitor_launch_alert")):to_be(true)
  local alert = r:actions_of("alert", "promotion:competitor_launch_alert")[1]
  expect(alert.channel):to_be("pricing")
  expect(alert.message):to_contain("rival.example launched Velvet Glow Serum in skincare at 24.99")
  expect(alert.message):to_contain("our 2 skincare products sell at 20.00–40.00, 30.00 on average")
  expect(alert.data.our_products):to_be(2)
end)

scenario("a launch in a category we do not sell raises nothing", function()
  track("shopper", "Product Viewed", { sku = "SKU-A", category = "skincare", price = 20 })
  local r = track("price-watch", "Competitor Product Launched",
                  { competitor = "glow.example", name = "Beard Balm Classic", category = "menswear", price = 15.99 })
  expect(r:hit("promotion:competitor_launch_alert")):to_be(false)
  expect(#r:actions_of("alert")):to_be(0)
end)
