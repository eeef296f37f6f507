-- Gold customers placing a big order get a thank-you gift, at most monthly.

promotion "vip_thank_you" {
  description = "Gift for gold customers on orders of 150 or more",
  on = "Order Completed",
  when = function(e, c) return c:in_segment("gold") and e.order ~= nil and e.order.total >= 150 end,
  limit = { cooldown = "30d" },
  run = function(e, c, act)
    act:notify{ channel = "email", template = "vip_gift", data = { order = e.order.id } }
  end,
}
