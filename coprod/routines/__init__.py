"""Knowledge-sharing routines: scheduled prompts to reflect, nudges and responses."""
