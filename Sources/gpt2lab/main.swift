print("gpt2lab: under construction")
