-- After a purchase: ask for a review once the order has had time to arrive,
-- and remind once if none comes. A review ends the journey (its goal).

journey "review_request" {
  description = "Ask for a review 7 days after an order, remind 5 days later",
  on = "Order Completed",
  key = function(e) return e.properties.order_id end,
  goal = "Product Reviewed",
  exit_on = { "Order Refunded", "Order Cancelled" },
  steps = {
    wait { "7d", name = "delivery" },
    send {
      channel = "email", template = "review_request", name = "ask",
      -- The products to review: from the order that started this instance.
      data = function(c, j)
        local skus = {}
        for _, item in ipairs(j.vars.trigger.products or {}) do skus[#skus + 1] = item.sku or item.product_id end
        return { order = j.key, products = skus }
      end,
    },
    wait_until { "Product Reviewed", timeout = "5d", on_timeout = "remind", name = "await_review" },
    exit { "reviewed", name = "done" },
    send { channel = "email", template = "review_reminder", name = "remind" },
  },
}
