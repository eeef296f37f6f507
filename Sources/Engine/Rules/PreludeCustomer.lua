-- Crescent's rule language, continued: the customer `c` and what segments read
-- of it (loaded right after Prelude.lua, in the same chunk).

-- The customer ------------------------------------------------------------

local Customer = {}

-- The structured fields of `c` are read from the host the first time a rule
-- asks for them (most rules read two or three), then kept for the event.
-- Methods stay a plain table lookup; only a missing field reaches the loader.
-- A table of an earlier event loses the loader (it must not see the next
-- customer's fields).
local LAZY_FIELDS = { traits = true, consent = true, segments = true, wishlist = true, carts = true,
                      orders = true, acquisition = true, rfm = true }
local C
setmetatable(Customer, {
  __index = function(_, key)
    if LAZY_FIELDS[key] and C ~= nil then
      local value = host_customer_field(key)
      rawset(C, key, value)
      return value
    end
    return nil
  end,
})
local CustomerMeta = { __index = Customer }
local EarlierCustomerMeta = { __index = function(_, key) return rawget(Customer, key) end }

-- What a segment read, so the host re-evaluates it only when that changes.
-- Segments get `Tracked` as `c`: each field read sets its input's bit in
-- READS; helpers derived from the clock lower HORIZON to the time their
-- answer stops holding; anything else that moves on its own (os.time, now(),
-- lists, counters, random) marks the evaluation volatile (the host sees the
-- volatile-read count move). Bits match `CustomerInputs` in the engine; a
-- count of events of one name reads that name's bit (host_customer_count says which).
local IN_ID, IN_ORDERS, IN_CART, IN_SEEN, IN_TRAITS, IN_CONSENT = 1, 2, 4, 8, 16, 32
local IN_SEGMENTS, IN_WISHLIST, IN_ACQUISITION, IN_VIEWED = 64, 128, 256, 1024
local INPUT_OF = {
  id = IN_ID, user_id = IN_ID, anonymous_id = IN_ID,
  orders_count = IN_ORDERS, total_spent = IN_ORDERS, lifetime_value = IN_ORDERS, avg_order_value = IN_ORDERS,
  last_order_at = IN_ORDERS, orders = IN_ORDERS, rfm = IN_ORDERS,
  cart_total = IN_CART, carts = IN_CART, first_seen = IN_SEEN, last_seen = IN_SEEN,
  traits = IN_TRAITS, consent = IN_CONSENT, segments = IN_SEGMENTS, wishlist = IN_WISHLIST,
  acquisition = IN_ACQUISITION,
}
local READS, HORIZON = 0, math.maxinteger
local NEVER = math.maxinteger

--- The answer being computed holds until `time` (ms) at the latest.
local function holds_until(time)
  if time < HORIZON then HORIZON = time end
end

local Tracked = setmetatable({}, {
  __index = function(_, key)
    local input = INPUT_OF[key]
    if input then
      READS = READS | input
      return C[key]
    end
    local method = rawget(Customer, key)
    if method ~= nil then return method end
    HORIZON = -1 -- a field some rule set on `c` (or nothing): it may differ next time
    return C[key]
  end,
  __newindex = function(_, key, value)
    HORIZON = -1
    C[key] = value
  end,
  __pairs = function()
    HORIZON = -1
    return next, C, nil
  end,
})

--- Money spent, in total or within a window: c:spent{ within = "365d" }.
function Customer:spent(options)
  if options == nil or options.within == nil then return self.total_spent end
  local orders = self.orders
  if #orders == 0 then return 0 end
  local window = duration(options.within)
  local since = host_now_exact() - window
  local sum, oldest = 0, nil
  for _, order in ipairs(orders) do
    if order.at >= since then
      sum = sum + order.total
      if oldest == nil or order.at < oldest then oldest = order.at end
    end
  end
  -- The sum holds until the oldest order counted leaves the window.
  if oldest ~= nil then holds_until(oldest + window + 1) end
  return sum
end

--- Events of one name by this customer: c:count{ event = "Product Viewed", within = "7d" }.
function Customer:count(options)
  if type(options) ~= "table" or type(options.event) ~= "string" then
    error("count needs { event = \"Name\", within = \"7d\" }", 2)
  end
  local window = options.within and duration(options.within) or -1
  local n, holds, input = host_customer_count(self.id, options.event, window)
  READS = READS | input -- events of that name only
  if holds then holds_until(holds) end
  return n
end

function Customer:in_segment(name) return self.segments[name] == true end

--- Days (with a fraction) since the last order, or nil without one.
function Customer:days_since_last_order()
  if not self.last_order_at then return nil end
  return (host_now() - self.last_order_at) / 86400000
end

--- True when the last order is less than `window` old: c:ordered_within("60d").
function Customer:ordered_within(window)
  local last = self.last_order_at
  if not last then return false end
  local limit = last + duration(window)
  if host_now_exact() < limit then
    holds_until(limit)
    return true
  end
  return false -- and stays false until the next order
end

--- The value of one cart (c:cart_value(cart_id)) or of all open carts.
function Customer:cart_value(cart_id)
  if cart_id ~= nil then
    local cart = self.carts and self.carts[tostring(cart_id)]
    return cart and cart.value or 0
  end
  return self.cart_total or 0
end

function Customer:recently_viewed(n)
  READS = READS | IN_VIEWED
  return host_recently_viewed(self.id, n or 10)
end
--- c:recommend{ n = 5 }: SKUs for this customer, best first (bought or viewed
--- with what they viewed and bought; popular in their segments and
--- demographic; popular overall), never one they already bought.
function Customer:recommend(options)
  local n = type(options) == "table" and options.n or options
  return host_recommend(self.id, tonumber(n) or 5)
end

function Customer:has_consent(purpose) return self.consent[purpose or "marketing"] == true end
