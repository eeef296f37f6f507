-- Crescent's rule language, loaded into every rule state before the rules.
-- It runs in the sandbox like any rule; the host gives it `where` and the
-- `host_*` functions, and publishes the declarations and helpers below.

local declarations = {}
local functions = {}

local FIELDS = {
  segment = { description = "string", when = "function", mode = "string" },
  promotion = {
    description = "string", on = "string|table", when = "function", run = "function",
    limit = "table", key = "function", mode = "string", marketing = "boolean", holdout = "number",
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

--- Milliseconds in a duration text ("90s", "15m", "1h", "7d", "2w", or several run together: "1h30m").
local LONGEST = 1e15 -- milliseconds, about 31,000 years (DurationText.longest)

function duration(text)
  if math.type(text) then
    local ms = text * 1000
    if not (ms >= -LONGEST and ms <= LONGEST) then
      error(("duration %s s is out of range (at most about 31,000 years)"):format(tostring(text)), 2)
    end
    return math.floor(ms)
  end
  local known = parsed_durations[text]
  if known then return known end
  -- One part or several run together ("1h30m", "2d12h"), adding up.
  local body = tostring(text):match("^%s*(.-)%s*$")
  local ms, position = 0, 1
  while ms and position <= #body do
    local amount, unit, after = body:match("^(%d+%.?%d*)%s*([smhdw])()", position)
    if amount then ms, position = ms + tonumber(amount) * UNITS[unit], after else ms = nil end
  end
  if not ms or #body == 0 then
    error(("invalid duration %q (use forms like \"90s\", \"1h\", \"7d\", \"1h30m\")"):format(tostring(text)), 2)
  end
  if not (ms <= LONGEST) then error(("duration %q is too long (at most about 31,000 years)"):format(tostring(text)), 2) end
  ms = math.floor(ms)
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

--- catalog.product(sku): what the shop's events said of its product
--- { sku, name, category, brand, price }, or nil; catalog.category(name):
--- { products, average_price, min_price, max_price } of the shop's products
--- in that category, or nil when it sells none there.
catalog = {
  product = function(sku) return host_catalog_product(tostring(sku)) end,
  category = function(name) return host_catalog_category(tostring(name)) end,
}

function log(...)
  local parts = {}
  for i = 1, select("#", ...) do parts[#parts + 1] = tostring((select(i, ...))) end
  host_log(table.concat(parts, " "))
end

lists = {
  contains = function(name, value) return host_list_contains(name, tostring(value)) end,
}
