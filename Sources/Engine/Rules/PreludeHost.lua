-- Crescent's rule language, continued: the fraud context, actions, and the
-- entry points the host calls (loaded after PreludeCustomer.lua, in the same chunk).

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

--- act:list_add("blocked_cards", fingerprint): adds a value to a list at once, for every rule.
function Act:list_add(list, value)
  if type(list) ~= "string" or list == "" or value == nil then
    error("list_add needs a list name and a value: act:list_add(\"blocked_cards\", e.order.payment.card_fingerprint)", 2)
  end
  add(self, { action = "list_add", list = list, value = tostring(value) })
end

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

-- The declarations made after the first `from` (a file's own, read after
-- it loads: reading them all again after every file cost quadratic time).
function host_declarations(from)
  local fresh = {}
  for i = (from or 0) + 1, #declarations do fresh[#fresh + 1] = declarations[i] end
  return fresh, #declarations
end

-- `crescent check` reads what a rule function declares (its parameters),
-- and which fields a customer and an event have.
function host_function(id) return functions[id] end

-- What `Engine.push(_:_:)` sets on every event, then the fields fetched on first read.
local PLAIN_EVENT_FIELDS = { "name", "type", "message_id", "timestamp", "internal", "user_id", "anonymous_id" }
function host_known_fields()
  local customer, event = {}, {}
  for field in pairs(INPUT_OF) do customer[#customer + 1] = field end
  for method in pairs(Customer) do customer[#customer + 1] = method end
  for _, field in ipairs(PLAIN_EVENT_FIELDS) do event[#event + 1] = field end
  for field in pairs(LAZY_EVENT_FIELDS) do event[#event + 1] = field end
  return customer, event
end

function host_begin(event, customer)
  if E ~= nil then setmetatable(E, nil) end
  E = setmetatable(event, EventMeta)
  if C ~= nil then setmetatable(C, EarlierCustomerMeta) end
  C = setmetatable(customer, CustomerMeta)
end

function host_set_segments(segments) C.segments = segments end

function host_segment(id) return functions[id](C) and true or false end

-- Promotions, journeys and counters get the fraud rules' `ctx` too (counters and lists).
function host_when(id) return functions[id](E, C, context) and true or false end

-- `crescent repl`'s rule_eval: a compiled chunk called as a rule function would be.
function host_inspect(chunk)
  local results = table.pack(chunk(E, C, context))
  return results.n, results
end

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
