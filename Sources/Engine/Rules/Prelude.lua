-- Crescent's rule language, loaded into every rule state before the rules.
-- It runs in the sandbox like any rule; the host gives it `where` and the
-- `host_*` functions, and publishes the declarations and helpers below.

local declarations = {}
local functions = {}

local FIELDS = {
  segment = { description = "string", when = "function", mode = "string" },
  promotion = {
    description = "string", on = "string|table", when = "function", run = "function",
    limit = "table", mode = "string", marketing = "boolean", holdout = "number",
  },
  fraud = { description = "string", on = "string|table", score = "function", mode = "string" },
  fraud_policy = { on = "string|table", review_at = "number", block_at = "number" },
  counter = { description = "string", on = "string|table", key = "function", when = "function", window = "string" },
  distinct_counter = {
    description = "string", on = "string|table", key = "function", value = "function", when = "function",
    window = "string",
  },
  list = { description = "string", values = "table" },
  journey = {
    description = "string", on = "string", segment = "string", when = "function", key = "function",
    exit_on = "string|table", goal = "string", reenter_after = "string|number", cap = "table",
    quiet_hours = "boolean", steps = "table", mode = "string",
  },
  schedule = {
    description = "string", every = "string|number", at = "string", timezone = "string", run = "function",
    sweep = "string",
  },
  messaging = { timezone = "string", quiet_hours = "table", cap = "table" },
  channel = { description = "string", url = "string", secret_env = "string", max_attempts = "number" },
}

local function register(kind, name, spec)
  local file, line = where(3)
  if type(spec) ~= "table" then
    error(("%s %q needs a table: %s %q { ... }"):format(kind, name, kind, name), 3)
  end
  local fields = FIELDS[kind]
  local entry = { kind = kind, name = name, file = file, line = line, fields = {} }
  for key, value in pairs(spec) do
    if kind == "list" and math.type(key) == "integer" then
      if type(value) ~= "string" and type(value) ~= "number" then
        error(("list %q: entry %d must be a string or a number, not a %s"):format(name, key, type(value)), 3)
      end
      entry.fields.values = entry.fields.values or {}
      entry.fields.values[#entry.fields.values + 1] = tostring(value)
    else
      local expected = type(key) == "string" and fields[key]
      if not expected then
        local known = {}
        for field in pairs(fields) do known[#known + 1] = field end
        table.sort(known)
        error(("%s %q: unknown field '%s' (known fields: %s)"):format(kind, name, tostring(key),
          table.concat(known, ", ")), 3)
      end
      local actual = type(value)
      if not expected:find(actual, 1, true) then
        error(("%s %q: field '%s' must be a %s, not a %s"):format(kind, name, key,
          (expected:gsub("|", " or ")), actual), 3)
      end
      if actual == "function" then
        functions[#functions + 1] = value
        entry.fields[key] = { __function = #functions }
      else
        entry.fields[key] = value
      end
    end
  end
  declarations[#declarations + 1] = entry
end

local function named(kind)
  return function(name)
    if type(name) ~= "string" or name == "" then
      error(("%s needs a name: %s \"name\" { ... }"):format(kind, kind), 2)
    end
    return function(spec) register(kind, name, spec) end
  end
end

segment = named("segment")
promotion = named("promotion")
fraud = named("fraud")
counter = named("counter")
distinct_counter = named("distinct_counter")
list = named("list")
schedule = named("schedule")
channel = named("channel")
function fraud_policy(spec) register("fraud_policy", "fraud_policy", spec) end
function messaging(spec) register("messaging", "messaging", spec) end

-- Durations -------------------------------------------------------------

local UNITS = { s = 1000, m = 60000, h = 3600000, d = 86400000, w = 604800000 }

local parsed_durations = {}

--- Milliseconds in a duration text ("90s", "15m", "1h", "7d", "2w").
function duration(text)
  if math.type(text) then return math.floor(text * 1000) end
  local known = parsed_durations[text]
  if known then return known end
  local amount, unit = tostring(text):match("^%s*(%d+%.?%d*)%s*([smhdw])%s*$")
  if not amount then error(("invalid duration %q (use forms like \"90s\", \"1h\", \"7d\")"):format(tostring(text)), 2) end
  local ms = math.floor(tonumber(amount) * UNITS[unit])
  if type(text) == "string" and #text < 32 then parsed_durations[text] = ms end
  return ms
end

function now() return host_now() end

--- trending{ n = 10 }: products whose last 24 hours of views and purchases
--- beat their own daily average of the week before: { sku, score, views, units }, best first.
function trending(options)
  local n = type(options) == "table" and options.n or options
  return host_trending(tonumber(n) or 10)
end

--- competitor_prices(sku): the latest price each competitor was seen at
--- (`Competitor Price Observed` events): { competitor, price, at }, cheapest first.
function competitor_prices(sku) return host_competitor_prices(tostring(sku)) end

function log(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
  host_log(table.concat(parts, " "))
end

lists = {
  contains = function(name, value) return host_list_contains(name, tostring(value)) end,
}

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
local IN_SEGMENTS, IN_WISHLIST, IN_ACQUISITION, IN_EVENTS, IN_VIEWED, IN_OTHER = 64, 128, 256, 512, 1024, 2048
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
    READS = READS | IN_OTHER
    return C[key]
  end,
  __newindex = function(_, key, value)
    READS = READS | IN_OTHER
    C[key] = value
  end,
  __pairs = function()
    READS = READS | IN_OTHER
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

-- The context given to fraud rules and counters -----------------------------

local Context = {}
Context.__index = Context

--- Occurrences of a counter key within a window: ctx:count("orders_per_card", card, "1h").
function Context:count(name, key, within)
  if key == nil then return 0 end
  return host_count(name, tostring(key), within and duration(within) or -1)
end

--- Distinct values seen for a key within a window: ctx:distinct("cards_per_customer", c.id, "24h").
function Context:distinct(name, key, within)
  if key == nil then return 0 end
  return host_distinct(name, tostring(key), within and duration(within) or -1)
end

function Context:in_list(name, value) return host_list_contains(name, tostring(value)) end

local context = setmetatable({}, Context)

-- Actions -------------------------------------------------------------------

local Act = {}
Act.__index = Act

local function hash(text)
  local h = 2166136261
  for i = 1, #text do h = ((h ~ text:byte(i)) * 16777619) & 0xffffffff end
  return h
end

local function add(self, action)
  self.actions[#self.actions + 1] = action
  return action
end

function Act:notify(options)
  if type(options) ~= "table" or type(options.template) ~= "string" then
    error("notify needs { channel = \"email\", template = \"name\", data = { ... } }", 2)
  end
  add(self, { action = "notify", channel = options.channel or "email", template = options.template, data = options.data })
end

function Act:coupon(options)
  options = options or {}
  self.coupons = self.coupons + 1
  local code = ("%s-%08X"):format((options.prefix or "CR"), hash(self.seed .. "#" .. self.coupons))
  add(self, { action = "coupon", code = code, percent = options.percent, amount = options.amount,
              expires_in = options.expires_in })
  return code
end

function Act:tag(name) add(self, { action = "tag", tag = tostring(name) }) end
function Act:untag(name) add(self, { action = "untag", tag = tostring(name) }) end
function Act:set_trait(name, value) add(self, { action = "set_trait", trait = tostring(name), value = value }) end

function Act:webhook(options)
  if type(options) ~= "table" or type(options.channel) ~= "string" then
    error("webhook needs { channel = \"name\", payload = { ... } }", 2)
  end
  add(self, { action = "webhook", channel = options.channel, payload = options.payload })
end

function Act:alert(options)
  if type(options) == "string" then options = { message = options } end
  add(self, { action = "alert", channel = options.channel or "ops", message = tostring(options.message),
              severity = options.severity or "warning", data = options.data })
end

-- Entry points for the host ---------------------------------------------------

local E

-- Like `c`, the event's structured fields are fetched when a rule first
-- reads them (many events trigger no rule that looks at them); an `e` kept
-- past its event keeps what it had read.
local LAZY_EVENT_FIELDS = { properties = true, traits = true, context = true, order = true }
local EventMeta = {
  __index = function(event, key)
    if event == E and LAZY_EVENT_FIELDS[key] then
      local value = host_event_field(key)
      rawset(event, key, value)
      return value
    end
    return nil
  end,
}

function host_declarations() return declarations end

function host_begin(event, customer)
  if E ~= nil then setmetatable(E, nil) end
  E = setmetatable(event, EventMeta)
  if C ~= nil then setmetatable(C, EarlierCustomerMeta) end
  C = setmetatable(customer, CustomerMeta)
end

function host_set_segments(segments) C.segments = segments end

function host_segment(id) return functions[id](C) and true or false end

function host_when(id) return functions[id](E, C) and true or false end

function host_key(id)
  local key = functions[id](E, C)
  if key == nil then return nil end
  return tostring(key)
end

function host_fraud(id)
  local score, reason = functions[id](E, C, context)
  if score == nil or score == false then return 0 end
  if type(score) ~= "number" then error(("score must return a number, not a %s"):format(type(score)), 0) end
  return score, reason ~= nil and tostring(reason) or nil
end

-- Whole phases in one call: each rule runs under pcall and is timed; the
-- host falls back to one call per rule when a limit stops the phase.
-- Returns codes ("1" hit, "0" miss, "e" error), times in µs, and errors.

-- Segments also return, per rule, the inputs it read (bits) and until when
-- its answer holds (ms); the tables are reused from call to call.
local segment_codes, segment_times, segment_reads, segment_holds = {}, {}, {}, {}
function host_segments(ids)
  local errors
  local n = #ids
  for i = 1, n do
    READS, HORIZON = 0, NEVER
    local volatile = host_volatile_reads()
    local started = host_clock()
    local ok, inside = pcall(functions[ids[i]], Tracked)
    segment_times[i] = host_clock() - started
    if host_volatile_reads() ~= volatile then HORIZON = -1 end
    segment_reads[i], segment_holds[i] = READS, HORIZON
    if not ok then
      segment_codes[i] = "e"
      errors = errors or {}
      errors[i] = tostring(inside)
    else
      segment_codes[i] = inside and "1" or "0"
    end
  end
  return table.concat(segment_codes, "", 1, n), segment_times, errors or false, segment_reads, segment_holds
end

function host_fraud_all(ids)
  local scores, reasons, times, errors = {}, {}, {}, {}
  for i = 1, #ids do
    local started = host_clock()
    local ok, score, reason = pcall(functions[ids[i]], E, C, context)
    times[i] = host_clock() - started
    if not ok then
      errors[i] = tostring(score); scores[i] = 0
    elseif score == nil or score == false then
      scores[i] = 0
    elseif type(score) ~= "number" then
      errors[i] = ("score must return a number, not a %s"):format(type(score)); scores[i] = 0
    else
      scores[i] = score
      if reason ~= nil then reasons[i] = tostring(reason) end
    end
  end
  return scores, reasons, times, errors
end

function host_run(id, seed)
  local act = setmetatable({ actions = {}, coupons = 0, seed = seed }, Act)
  functions[id](E, C, act)
  return act.actions
end
