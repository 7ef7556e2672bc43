-- The Iceberg catalog every Flink job writes through: the JDBC catalog in PostgreSQL that Trino and
-- pyiceberg share, with table data in S3 (S3FileIO). The catalog name must equal the shared name, as
-- it is the key of the catalog's rows. Every table the job creates gets the table-default properties:
-- a commit every checkpoint (10 s) would otherwise leave a metadata file behind each time; with them a
-- table keeps ICEBERG_METADATA_VERSIONS_KEPT old ones (snapshots are expired by dags/iceberg_maintenance.py).
-- No secret is written here, so none is in the SQL text Flink keeps and shows: the JDBC driver reads the
-- password from PGPASSFILE, S3FileIO the keys from AWS's default credential chain (the processes'
-- AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY locally, the instance role on AWS).
CREATE CATALOG ${ICEBERG_CATALOG_NAME} WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'uri' = '${ICEBERG_CATALOG_JDBC_URL}',
  'jdbc.user' = '${POSTGRES_USER}',
  'warehouse' = '${ICEBERG_WAREHOUSE}',
  'io-impl' = 'org.apache.iceberg.aws.s3.S3FileIO',
  's3.endpoint' = '${S3_ENDPOINT}',
  's3.path-style-access' = 'true',
  'client.region' = '${AWS_REGION}',
  'table-default.format-version' = '2',
  'table-default.write.metadata.delete-after-commit.enabled' = 'true',
  'table-default.write.metadata.previous-versions-max' = '${ICEBERG_METADATA_VERSIONS_KEPT}'
);
