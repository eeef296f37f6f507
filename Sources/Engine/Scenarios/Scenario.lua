-- Scenario tests for rules (`crescent test`): files named *_test.lua declare
-- scenarios; each runs against a fresh engine with the rule set under test,
-- on a virtual clock that starts at 2026-01-01T00:00:00Z.

local scenarios = {}

function scenario(name, body)
  if type(name) ~= "string" or type(body) ~= "function" then
    error('scenario needs a name and a function: scenario("name", function() ... end)', 2)
  end
  local file, line = where(2)
  scenarios[#scenarios + 1] = { name = name, body = body, file = file, line = line }
end

-- What happened to one event ----------------------------------------------

local Outcome = {}
Outcome.__index = Outcome

-- A rule name the rule set does not declare fails at the test's own line.
local function check_rule(rule)
  local problem = host_rule_problem(rule)
  if problem then error(problem, 3) end
end

--- Whether a rule (kind:name) hit for this event. A name the rule set does
--- not declare is an error, not a quiet false.
function Outcome:hit(rule)
  check_rule(rule)
  local r = self.results[rule]
  return r ~= nil and r.outcome == "hit"
end
--- A rule's result: { outcome, reason, score }, or nil when it did not run.
function Outcome:result(rule)
  check_rule(rule)
  return self.results[rule]
end
--- The actions of one kind ("notify", "coupon", ...), optionally of one rule.
function Outcome:actions_of(kind, rule)
  if rule ~= nil then check_rule(rule) end
  local found = {}
  for _, a in ipairs(self.actions) do
    if a.action == kind and (rule == nil or a.rule == rule) then found[#found + 1] = a end
  end
  return found
end

local function wrap(outcome) return setmetatable(outcome, Outcome) end

local function send(message) return wrap(host_send(message)) end

--- identify(user, traits): an identify call now.
function identify(user, traits) return send({ type = "identify", userId = user, traits = traits or {} }) end

--- track(user, event, properties, extra): a track call now (extra: anonymousId, context, traits).
function track(user, event, properties, extra)
  local message = { type = "track", userId = user, event = event, properties = properties or {} }
  for k, v in pairs(extra or {}) do message[k] = v end
  return send(message)
end

--- page(user, name, properties)
function page(user, name, properties) return send({ type = "page", userId = user, name = name, properties = properties or {} }) end

--- order(user, id, total, properties): an Order Completed.
function order(user, id, total, properties)
  local p = { order_id = id, total = total, currency = "EUR" }
  for k, v in pairs(properties or {}) do p[k] = v end
  return track(user, "Order Completed", p)
end

--- advance("2h"): moves the clock; due journey timers and schedules run.
function advance(d) host_advance(duration(d)) end

--- customer(id): { id, orders_count, total_spent, segments = { gold = true }, traits }.
function customer(id) return host_customer(id) end

--- journey(user, name): the customer's latest instance { status, step, exit_reason, converted }, or nil.
function journey(user, name)
  check_rule("journey:" .. tostring(name))
  return host_journey(user, name)
end

--- sent(rule): the actions in the outbox, of one rule when given.
function sent(rule)
  if rule ~= nil then check_rule(rule) end
  return host_sent(rule)
end

-- Expectations ------------------------------------------------------------

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  if type(v) ~= "table" then return tostring(v) end
  local parts, n = {}, 0
  for k, x in pairs(v) do
    n = n + 1
    if n > 8 then parts[#parts + 1] = "..."; break end
    parts[#parts + 1] = (math.type(k) and "" or tostring(k) .. " = ") .. show(x)
  end
  if #parts == 0 then return "{}" end
  return "{ " .. table.concat(parts, ", ") .. " }"
end

local function same(a, b)
  if type(a) ~= "table" or type(b) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

local Expectation = {}
Expectation.__index = Expectation

function expect(value, label) return setmetatable({ value = value, label = label }, Expectation) end

local function fail(self, wanted)
  error((self.label and (self.label .. ": ") or "") .. "expected " .. wanted .. ", got " .. show(self.value), 3)
end

function Expectation:to_be(expected) if not same(self.value, expected) then fail(self, show(expected)) end end
function Expectation:to_be_truthy() if not self.value then fail(self, "a true value") end end
function Expectation:to_be_falsy() if self.value then fail(self, "false or nil") end end
function Expectation:to_be_at_least(n) if type(self.value) ~= "number" or self.value < n then fail(self, "at least " .. show(n)) end end
function Expectation:to_contain(item)
  local v = self.value
  if type(v) == "string" and type(item) == "string" and v:find(item, 1, true) then return end
  if type(v) == "table" then
    for _, x in pairs(v) do if same(x, item) then return end end
    if v[item] == true then return end
  end
  fail(self, "something containing " .. show(item))
end
function Expectation:not_to_contain(item)
  local v = self.value
  local found = (type(v) == "string" and type(item) == "string" and v:find(item, 1, true) ~= nil)
  if type(v) == "table" then
    for _, x in pairs(v) do if same(x, item) then found = true end end
    if v[item] == true then found = true end
  end
  if found then fail(self, "nothing equal to " .. show(item)) end
end

-- Entry points for the host -----------------------------------------------

function host_scenarios()
  local list = {}
  for i, s in ipairs(scenarios) do list[i] = { name = s.name, file = s.file, line = s.line } end
  return list
end

function host_run_scenario(i)
  local ok, err = pcall(scenarios[i].body)
  if ok then return true end
  return false, tostring(err)
end
