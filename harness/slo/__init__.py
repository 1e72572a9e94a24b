"""SLO specs, exact SLO math over request records, and ground truth against Prometheus."""
