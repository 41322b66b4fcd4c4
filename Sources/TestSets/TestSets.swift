// TestSets module.
