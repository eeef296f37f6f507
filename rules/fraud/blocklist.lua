-- Cards confirmed as fraud stay blocked. A review (POST /v1/orders/{id}/review
-- with "outcome": "fraud") or the shop's own feed sends Fraud Confirmed for
-- the order, or the order is refunded for a chargeback or fraud; its card goes
-- on the list, and every later order on that card is blocked, whichever
-- account places it.

list "blocked_cards" {}

local function confirms_fraud(e)
  if e.name == "Fraud Confirmed" then return true end
  local reason = string.lower(tostring(e.properties.reason or ""))
  return reason:find("fraud", 1, true) ~= nil or reason:find("chargeback", 1, true) ~= nil
end

promotion "block_confirmed_card" {
  description = "The card of an order confirmed as fraud (a review, a chargeback) goes on the blocked_cards list",
  on = { "Fraud Confirmed", "Order Refunded" },
  marketing = false,
  when = function(e)
    return confirms_fraud(e) and e.order ~= nil and e.order.payment ~= nil and e.order.payment.card_fingerprint ~= nil
  end,
  run = function(e, c, act) act:list_add("blocked_cards", e.order.payment.card_fingerprint) end,
}

fraud "blocked_card" {
  description = "An order paid with a card on the blocked_cards list",
  score = function(e, c, ctx)
    local card = e.properties.card_fingerprint
    if card ~= nil and ctx:in_list("blocked_cards", card) then
      return 100, ("card %s was confirmed as fraud"):format(card)
    end
  end,
}
