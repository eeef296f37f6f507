-- Welcome a first-time buyer with a thank-you and a coupon for the next order.

promotion "first_purchase_welcome" {
  description = "Thank-you and 10% off the next order after the first purchase",
  on = "Order Completed",
  when = function(e) return e.order ~= nil and e.order.is_first end,
  limit = { per_customer = 1 },
  run = function(e, c, act)
    local code = act:coupon{ percent = 10, expires_in = "60d" }
    act:notify{ channel = "email", template = "first_purchase", data = { coupon = code, order = e.order.id } }
  end,
}
