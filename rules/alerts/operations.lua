-- Operational alerts for the sales team: not marketing, so no consent needed.

-- One alert per SKU and region while its shelf stays low, again every 3 days
-- (`key` makes the cooldown count per SKU and region, not per feed).
promotion "low_stock_alert" {
  description = "Stock of a SKU in a region falls below 5 (again every 3 days while it stays low)",
  on = "Inventory Updated",
  marketing = false,
  when = function(e) return e.properties.quantity ~= nil and e.properties.quantity < 5 end,
  key = function(e) return ("%s@%s"):format(e.properties.sku, e.properties.region or "default") end,
  limit = { cooldown = "3d" },
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

promotion "competitor_launch_alert" {
  description = "A competitor launches a product in a category we sell",
  on = "Competitor Product Launched",
  marketing = false,
  when = function(e) return catalog.category(e.properties.category or "") ~= nil end,
  run = function(e, c, act)
    local p = e.properties
    local ours = catalog.category(p.category)
    local message = ("%s launched %s in %s"):format(p.competitor or "a competitor", p.name or "a product", p.category)
    local price = tonumber(p.price)
    if price and ours.average_price then
      message = message .. (" at %.2f; our %d %s products sell at %.2f–%.2f, %.2f on average")
        :format(price, ours.products, p.category, ours.min_price, ours.max_price, ours.average_price)
    end
    act:alert{ channel = "pricing", severity = "info", message = message,
               data = { competitor = p.competitor, name = p.name, category = p.category, price = price,
                        our_products = ours.products, our_average_price = ours.average_price } }
  end,
}
