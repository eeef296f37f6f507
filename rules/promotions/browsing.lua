-- Personal reminders from browsing behaviour, never intrusive: each at most
-- once a week per customer, and only with marketing consent (host-enforced).

promotion "recently_viewed_reminder" {
  description = "A product viewed 3 times in a week, not bought: remind once",
  on = "Product Viewed",
  when = function(e, c)
    local sku = e.properties.product_id
    if sku == nil then return false end
    -- The cheap counts first: most views stop there.
    if c:count{ event = "Product Viewed", within = "7d" } < 3
      or c:count{ event = "Order Completed", within = "7d" } > 0 then
      return false
    end
    for _, viewed in ipairs(c:recently_viewed(20)) do
      if viewed == sku then return true end
    end
    return false
  end,
  limit = { cooldown = "7d" },
  run = function(e, c, act)
    act:notify{ channel = "email", template = "recently_viewed", data = { products = c:recently_viewed(3) } }
  end,
}

promotion "wishlist_price_drop" {
  description = "A wishlisted product is seen at a lower price than when it was wishlisted",
  on = "Product Viewed",
  when = function(e, c)
    local was = c.wishlist[e.properties.product_id]
    return was ~= nil and e.properties.price ~= nil and e.properties.price < was
  end,
  limit = { cooldown = "7d" },
  run = function(e, c, act)
    act:notify{ channel = "email", template = "price_drop",
                data = { product = e.properties.product_id, price = e.properties.price } }
  end,
}
