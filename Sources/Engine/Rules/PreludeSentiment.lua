-- sentiment(text): a lexicon-based score for review text in English and
-- Spanish, from -1 (angry) to 1 (delighted), 0 when no word carries
-- sentiment. Negations ("not", "no", "nunca", ...) flip the next three
-- words; intensifiers ("very", "muy", ...) scale the next sentiment word;
-- "!" strengthens the whole text a little. Normalized as VADER does:
-- s / sqrt(s^2 + 15).

local LEXICON = {
  -- English
  love = 3, loved = 3, amazing = 3, excellent = 3, perfect = 3, wonderful = 3, fantastic = 3, awesome = 3, best = 3,
  great = 2.5, beautiful = 2.5, happy = 2, good = 2, nice = 2, recommend = 2, recommended = 2, like = 1.5, liked = 1.5,
  smooth = 1.5, soft = 1, fresh = 1, value = 1, fast = 1, glad = 2, pleased = 2, lovely = 2.5, favorite = 2.5, favourite = 2.5,
  terrible = -3, awful = -3, horrible = -3, worst = -3, hate = -3, hated = -3, disgusting = -3, useless = -2.5, scam = -3,
  bad = -2.5, poor = -2, disappointed = -2.5, disappointing = -2.5, broken = -2, broke = -2, damaged = -2, late = -1.5,
  rash = -2, itchy = -2, irritated = -2, refund = -1.5, ["return"] = -1, returned = -1.5, cheap = -1, sticky = -1, angry = -3,
  never = 0, waste = -2.5, wrong = -2, missing = -2, slow = -1.5, problem = -1.5, complaint = -2, rude = -2.5,
  -- Spanish
  encanta = 3, ["encantó"] = 3, encanto = 3, excelente = 3, perfecto = 3, perfecta = 3, maravilla = 3, maravilloso = 3,
  genial = 2.5, ["buenísimo"] = 3, bueno = 2, buena = 2, buen = 2, recomiendo = 2, feliz = 2, contento = 2, contenta = 2,
  calidad = 1, suave = 1, ["rápido"] = 1, precioso = 2.5, preciosa = 2.5, gusta = 2, ["gustó"] = 2, mejor = 2.5, bonito = 2,
  horrible = -3, terrible = -3, ["pésimo"] = -3, ["pésima"] = -3, pesimo = -3, fatal = -3, odio = -3, asco = -3, estafa = -3,
  malo = -2.5, mala = -2.5, mal = -2.5, roto = -2, rota = -2, tarde = -1.5, decepcionado = -2.5, decepcionada = -2.5,
  ["decepción"] = -2.5, ["devolución"] = -1.5, devolver = -1.5, ["irritación"] = -2, caro = -1, lento = -1.5, peor = -3, nunca = 0,
  queja = -2, defectuoso = -2.5, enfadado = -3, enfadada = -3,
}

local NEGATORS = {
  ["not"] = true, ["no"] = true, ["never"] = true, ["nor"] = true, ["don"] = true, ["doesn"] = true, ["didn"] = true,
  ["isn"] = true, ["wasn"] = true, ["aren"] = true, ["won"] = true, ["nunca"] = true, ["ni"] = true, ["tampoco"] = true,
  ["jamás"] = true, ["jamas"] = true, ["sin"] = true, ["nada"] = true,
}

local BOOSTERS = {
  very = 1.5, really = 1.5, extremely = 2, so = 1.3, super = 1.5, totally = 1.5, absolutely = 1.8, too = 1.3,
  muy = 1.5, ["súper"] = 1.5, totalmente = 1.5, bastante = 1.3, demasiado = 1.3, tan = 1.3, realmente = 1.5,
}

function sentiment(text)
  if type(text) ~= "string" or text == "" then return 0 end
  local total, negate, boost = 0, 0, 1
  for word in text:lower():gmatch("[^%s%p%d]+") do
    if NEGATORS[word] then
      negate = 3
    else
      local value = LEXICON[word]
      if BOOSTERS[word] then
        boost = BOOSTERS[word]
      elseif value and value ~= 0 then
        if negate > 0 then value = -value * 0.75 end
        total = total + value * boost
        boost = 1
      end
      if negate > 0 then negate = negate - 1 end
    end
  end
  local _, bangs = text:gsub("!", "")
  total = total * (1 + 0.1 * math.min(bangs, 3))
  return total / math.sqrt(total * total + 15)
end
