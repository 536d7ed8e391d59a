"""Devices: the mesh and shardings, batch statistics across devices and pmap layouts (parallel), multi-host
start-up (distributed), JAX's persistent compilation cache (compile_cache). The only package that knows devices."""
