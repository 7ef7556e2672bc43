-- The Iceberg catalog every Flink job writes through: the JDBC catalog in PostgreSQL that Trino and
-- pyiceberg share, with table data in S3 (S3FileIO). The catalog name must equal the shared name, as
-- it is the key of the catalog's rows.
CREATE CATALOG ${ICEBERG_CATALOG_NAME} WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'uri' = '${ICEBERG_CATALOG_JDBC_URL}',
  'jdbc.user' = '${POSTGRES_USER}',
  'jdbc.password' = '${POSTGRES_PASSWORD}',
  'warehouse' = '${ICEBERG_WAREHOUSE}',
  'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO',
  's3.endpoint' = '${S3_ENDPOINT}',
  's3.path-style-access' = 'true',
  's3.access-key-id' = '${AWS_ACCESS_KEY_ID}',
  's3.secret-access-key' = '${AWS_SECRET_ACCESS_KEY}',
  'client.region' = '${AWS_REGION}'
);
