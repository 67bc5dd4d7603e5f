"""Operations: health, metrics, hardening, maintenance, OpenAPI, playground."""
