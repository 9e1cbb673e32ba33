"""Speech engines behind one interface (`base.Engine`)."""
