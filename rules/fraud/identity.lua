-- Who is paying, and from where.

list "disposable_domains" {
  description = "Throwaway e-mail providers",
  "mailinator.com", "guerrillamail.com", "10minutemail.com", "yopmail.com", "trashmail.com", "tempmail.com",
}

fraud "disposable_email" {
  description = "E-mail on a throwaway domain",
  score = function(e, c)
    local domain = (c.traits.email or ""):match("@([^@]+)$")
    if domain and lists.contains("disposable_domains", domain:lower()) then
      return 40, "disposable e-mail domain " .. domain
    end
  end,
}

fraud "country_mismatch" {
  description = "Billing, shipping and IP countries disagree",
  score = function(e)
    local p = e.properties
    local countries, distinct = {}, 0
    for _, country in ipairs({ p.billing_country, p.shipping_country, p.ip_country }) do
      if country and not countries[country] then countries[country] = true; distinct = distinct + 1 end
    end
    if distinct >= 3 then
      return 60, ("billing %s, shipping %s, IP %s"):format(p.billing_country, p.shipping_country, p.ip_country)
    elseif distinct == 2 then
      return 25, ("billing %s, shipping %s, IP %s"):format(p.billing_country or "?", p.shipping_country or "?", p.ip_country or "?")
    end
  end,
}

fraud "high_value_first_order" {
  description = "A first order of 1000 or more",
  score = function(e)
    if e.order and e.order.is_first and e.order.total >= 1000 then
      return 45, ("first order of %.2f"):format(e.order.total)
    end
  end,
}
