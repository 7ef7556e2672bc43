"""Code and configuration shared by the DAGs, the Flink job, the producer, the stack tool and tests."""
