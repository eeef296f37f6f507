-- A cart left alone: a reminder after an hour, a day later an offer if the
-- cart is worth it. One instance per cart; buying is the goal: it ends the
-- instance at once, even in the middle of a wait, and counts as converted.

journey "abandoned_cart" {
  description = "Remind after 1 h; after another 23 h, 10% off carts over 50",
  on = "Product Added",
  key = function(e) return e.properties.cart_id end,
  goal = "Order Completed",
  reenter_after = "7d",
  cap = { max = 2, per = "1d" },
  steps = {
    wait { "1h", name = "grace" },
    send {
      channel = "email", template = "cart_reminder", name = "reminder",
      data = function(c, j)
        local cart = c.carts[j.key] or {}
        return { cart = j.key, value = cart.value, items = cart.items }
      end,
    },
    wait { "23h", name = "second_chance" },
    branch {
      name = "worth_an_offer",
      when = function(c, j) return c:cart_value(j.key) > 50 end,
      send { channel = "email", template = "cart_discount", coupon = { percent = 10, expires_in = "7d" }, name = "offer" },
    },
  },
}
