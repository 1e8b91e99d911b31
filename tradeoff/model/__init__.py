"""The base model: obtaining it (`obtain`: bundled GGUF parts, sha256, conversion, hub identity)
and loading it, with an optional LoRA adapter (`load`). Loading never converts."""
