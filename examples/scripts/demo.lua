-- A taste of a rule: score an order the way a fraud rule would.
local order = {
  amount = 412.50, currency = "EUR",
  country = "ES", ip_country = "NG",
  email = "buyer@mailinator.com",
  items = { { sku = "SERUM-30", qty = 3 }, { sku = "LIP-07", qty = 1 } },
}

local disposable = { ["mailinator.com"] = true, ["guerrillamail.com"] = true }

local score, reasons = 0, {}
if order.amount > 300 then
  score = score + 20
  reasons[#reasons + 1] = ("high amount %.2f %s"):format(order.amount, order.currency)
end
if order.country ~= order.ip_country then
  score = score + 30
  reasons[#reasons + 1] = ("billing %s but IP in %s"):format(order.country, order.ip_country)
end
local domain = order.email:match("@(.+)$")
if disposable[domain] then
  score = score + 25
  reasons[#reasons + 1] = "disposable e-mail domain " .. domain
end

local decision = score >= 80 and "block" or score >= 50 and "review" or "allow"
return decision, score, reasons
