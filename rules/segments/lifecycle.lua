-- Where a customer is in their life with the shop.

segment "at_risk" {
  description = "Ordered before, but not in the last 60 days (and not yet 180)",
  when = function(c)
    local days = c:days_since_last_order()
    return days ~= nil and days >= 60 and days < 180
  end,
}

segment "churned" {
  description = "No order in 180 days or more",
  when = function(c)
    local days = c:days_since_last_order()
    return days ~= nil and days >= 180
  end,
}

segment "window_shopper" {
  description = "Viewed 10 or more products in 7 days without ever ordering",
  when = function(c)
    return c.orders_count == 0 and c:count{ event = "Product Viewed", within = "7d" } >= 10
  end,
}
