"""HTTP adapters: parse → call the core → render. No business rules here."""
