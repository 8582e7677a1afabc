"""The reference architecture: a small payments platform built from cdk_microservices."""
