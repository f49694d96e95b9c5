"""spark-video: a producer for AI-generated short episodes."""
