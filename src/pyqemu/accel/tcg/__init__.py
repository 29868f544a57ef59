"""The translation engine: guest code -> IR -> optimizer -> backend -> cached, chained blocks."""
