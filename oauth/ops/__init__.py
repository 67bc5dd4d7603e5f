"""Operations: health and metrics, hardening and the perimeter, the instance folder, the
schema and maintenance (with the `db` CLI), OpenAPI, the playground."""
