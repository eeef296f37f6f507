-- Card testing and card cycling.

distinct_counter "cards_per_customer" {
  description = "Distinct cards per customer",
  on = "Order Completed", window = "7d",
  key = function(e, c) return c.id end,
  value = function(e) return e.properties.card_fingerprint end,
}

fraud "many_cards" {
  description = "Three or more cards on one account in 24 hours",
  score = function(e, c, ctx)
    local n = ctx:distinct("cards_per_customer", c.id, "24h")
    if n >= 3 then return 50, ("%d different cards on this account in 24 hours"):format(n) end
  end,
}

fraud "card_testing" {
  description = "Tiny orders repeated on one card: someone checking stolen cards",
  score = function(e, c, ctx)
    local total = e.order and e.order.total or 0
    local n = ctx:count("orders_per_card", e.properties.card_fingerprint, "1h")
    if total <= 2 and n >= 3 then
      return 50, ("order of %.2f, card used %d times in an hour"):format(total, n)
    end
  end,
}
