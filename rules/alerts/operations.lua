-- Operational alerts for the sales team: not marketing, so no consent needed.

promotion "low_stock_alert" {
  description = "Stock of a SKU in a region falls below 5",
  on = "Inventory Updated",
  marketing = false,
  when = function(e) return e.properties.quantity ~= nil and e.properties.quantity < 5 end,
  run = function(e, c, act)
    act:alert{ channel = "inventory", severity = "warning",
               message = ("low stock: %s in %s has %d left"):format(e.properties.sku, e.properties.region or "default",
                                                                     e.properties.quantity) }
  end,
}

promotion "competitor_undercut_alert" {
  description = "A competitor sells a SKU 10% or more below our price",
  on = "Competitor Price Observed",
  marketing = false,
  when = function(e)
    local p = e.properties
    return p.price ~= nil and p.our_price ~= nil and p.price <= p.our_price * 0.9
  end,
  run = function(e, c, act)
    local p = e.properties
    act:alert{ channel = "pricing", severity = "info",
               message = ("%s sells %s at %.2f, we sell at %.2f"):format(p.competitor or "a competitor", p.sku, p.price, p.our_price) }
  end,
}
