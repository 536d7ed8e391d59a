"""The training launcher: flags -> config -> (multi-host init) -> jaxae.engine.loop.run. The
repository's train.py and the installed `jaxae train` command run it:

    python train.py --config configs/vae_mnist.py --workdir runs/vae_mnist
    jaxae train --config vae_mnist:tiny --workdir /tmp/tiny --config.model.latent_dim=8

--config takes a config file or a shipped experiment's name. Every mistake a user can make ends in
one line, `jaxae: error: ...`, and exit status 1; a run stopped by SIGTERM or Ctrl-C saves first and
exits with 143 or 130.
"""

import sys

from absl import app, flags, logging

_CONFIG = flags.DEFINE_string("config", None, "A config file (configs/<name>.py) or a shipped experiment's name "
                              "(vae_mnist); ':tiny' for its tiny variant; override its fields with --config.<field>=<value>.")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics.jsonl, TensorBoard and images.")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "HOST:PORT of process 0, for multi-process runs.")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "How many processes take part.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index, 0 on the coordinator.")
_DISTRIBUTED = flags.DEFINE_enum("distributed", "none", ["none", "auto"],
                                 "'auto': let JAX find the processes itself (SLURM, Cloud TPU).")
_ON_MISMATCH = flags.DEFINE_enum(
    "on_checkpoint_mismatch", "fail", ["fail", "new_workdir"],
    "When --workdir holds checkpoints of another run: 'fail' (list the differing fields), or "
    "'new_workdir' (train in <workdir>-2, -3, ... instead; the old workdir is not touched).")
_TIMEOUT = flags.DEFINE_integer("distributed_timeout", 300, "Seconds to wait for every process to arrive.")
flags.mark_flags_as_required(["config", "workdir"])


def parse_flags(argv):
    """absl's flags, less the --config.<field> overrides, which are kept for the config. One-line errors."""
    from jaxae.config.loading import split_overrides
    from jaxae.errors import ConfigError

    try:
        rest, overrides = split_overrides(argv)
        return flags.FLAGS(rest), overrides
    except (flags.Error, ConfigError) as error:
        sys.exit(f"jaxae: error: {error}")


def main(parsed):
    argv, overrides = parsed
    if len(argv) > 1:
        sys.exit(f"jaxae: error: unexpected arguments: {argv[1:]}")
    if not flags.FLAGS["verbosity"].present:
        logging.set_verbosity(logging.WARNING)  # Orbax logs every file it writes at INFO.
    from jaxae.devices import distributed
    from jaxae.devices.compile_cache import enable_compile_cache
    from jaxae.config.loading import config_from_command_line
    from jaxae.errors import JaxaeError, from_the_command_line
    from jaxae.engine.loop import Stopped, run

    from jaxae.config.experiments import config_argument

    try:
        config = config_from_command_line(config_argument(_CONFIG.value), overrides)
        distributed.initialize(coordinator_address=_COORDINATOR.value, num_processes=_NUM_PROCESSES.value,
                               process_id=_PROCESS_ID.value, timeout_s=_TIMEOUT.value,
                               auto=_DISTRIBUTED.value == "auto")
        enable_compile_cache(config.get("compile_cache_dir", ""))
        with from_the_command_line():  # Errors name this launcher's flags.
            result = run(config, _WORKDIR.value, on_mismatch=_ON_MISMATCH.value)
    except JaxaeError as error:
        sys.exit(f"jaxae: error: {error}")
    except Stopped as stop:
        print(f"jaxae: {stop}; run the same command again to resume.", flush=True)
        sys.exit(stop.exit_code)
    except KeyboardInterrupt:
        print("jaxae: interrupted; checkpoints already saved are intact, run the same command to resume.", flush=True)
        sys.exit(130)
    import jax

    if jax.process_index() != 0:
        return
    print("final eval: " + " ".join(f"{k}={v:.4f}" for k, v in result.eval_metrics.items()))
    print(f"checkpoints: {result.checkpoint_dir}")
    print(f"metrics:     {result.metrics_path}")
    print(f"tensorboard: {result.workdir}/tensorboard")
    for path in result.export_paths:
        print(f"exported:    {path}")
    for path in result.image_paths:
        print(f"image:       {path}")


_OWN_FLAGS = (_CONFIG, _WORKDIR, _COORDINATOR, _NUM_PROCESSES, _PROCESS_ID, _DISTRIBUTED, _ON_MISMATCH, _TIMEOUT)


def launch(argv=None) -> None:
    """Runs the launcher on `argv` (default sys.argv; argv[0] the program's name); exits with its status."""
    # absl's --help lists the flags of the module named sys.argv[0] under the docstring of __main__: these
    # flags are this module's, and __main__ may be a console script without a docstring.
    for holder in _OWN_FLAGS:
        flags.FLAGS.register_key_flag_for_module(sys.argv[0], flags.FLAGS[holder.name])
    main_module = sys.modules["__main__"]
    if not getattr(main_module, "__doc__", None):
        main_module.__doc__ = __doc__
    app.run(main, argv=argv, flags_parser=parse_flags)


if __name__ == "__main__":
    launch()
