--- Fine-tuning: one network trained on each task in turn with no protection
-- against forgetting (the lower bound).
local plain = require "hnet.learners.plain"
return plain.class("finetune", {})
