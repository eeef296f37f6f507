-- Velocity: the same card or the same IP used too often in a short time.

counter "orders_per_card" {
  description = "Orders per card fingerprint",
  on = "Order Completed", window = "1d",
  key = function(e) return e.properties.card_fingerprint end,
}

counter "orders_per_ip" {
  description = "Orders per client IP",
  on = "Order Completed", window = "1d",
  key = function(e) return e.context.ip end,
}

fraud "card_velocity" {
  description = "A card used 3 or more times in an hour",
  score = function(e, c, ctx)
    local n = ctx:count("orders_per_card", e.properties.card_fingerprint, "1h")
    if n >= 3 then return 40, ("card used %d times in the last hour"):format(n) end
  end,
}

fraud "ip_velocity" {
  description = "An IP placing 5 or more orders in an hour",
  score = function(e, c, ctx)
    local n = ctx:count("orders_per_ip", e.context.ip, "1h")
    if n >= 5 then return 30, ("IP placed %d orders in the last hour"):format(n) end
  end,
}
