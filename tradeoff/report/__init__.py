"""What the study reports: statistics (`stats`), the results table (`table`), chart rows
(`charts`), the learning-forgetting curve's points (`curve`) and the sweep collector (`sweep`)."""
