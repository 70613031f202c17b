"""The instance metadata service (EC2's IMDSv1 and IMDSv2) for the instances of the cloud.

Served by every management server at ``/imds/<instance-id>/`` to loopback
callers; see :mod:`imds.app` for the wire behaviour and :mod:`imds.tree` for the
layout of the metadata.
"""
