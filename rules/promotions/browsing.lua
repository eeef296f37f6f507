-- Personal reminders from browsing behaviour, never intrusive: each at most
-- once a week per customer, and only with marketing consent (host-enforced).

promotion "recently_viewed_reminder" {
  description = "Three or more product views in a week and no order: remind of the last three products, at most weekly",
  on = "Product Viewed",
  when = function(e, c)
    -- A view of an unidentified product never counts. (The product just
    -- viewed is already first in c:recently_viewed() when rules run.)
    if e.properties.product_id == nil then return false end
    return c:count{ event = "Product Viewed", within = "7d" } >= 3
      and c:count{ event = "Order Completed", within = "7d" } == 0
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
