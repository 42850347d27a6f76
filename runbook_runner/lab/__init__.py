"""The Batik.Net lab: the city WAN built from network namespaces on this machine."""
