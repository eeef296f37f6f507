-- Where a customer is in their life with the shop.

segment "at_risk" {
  description = "Ordered before, but not in the last 60 days (and not yet 180)",
  -- ordered_within tells the engine when its answer changes, so the nightly
  -- sweep runs this again only on the nights a customer crosses 60 or 180 days.
  when = function(c)
    return c:ordered_within("180d") and not c:ordered_within("60d")
  end,
}

segment "churned" {
  description = "No order in 180 days or more",
  when = function(c)
    return c.last_order_at ~= nil and not c:ordered_within("180d")
  end,
}

segment "window_shopper" {
  description = "Viewed 10 or more products in 7 days without ever ordering",
  when = function(c)
    return c.orders_count == 0 and c:count{ event = "Product Viewed", within = "7d" } >= 10
  end,
}
