"""Documents and checks built from the services' declared contracts (``fw_<svc>/contract.py``).

* :mod:`.services` finds the declarations;
* :mod:`.compat` records what consumers rely on and checks producers' schemas against it;
* :mod:`.asyncapi` and :mod:`.catalogue` render ``docs/asyncapi/<svc>.json`` and ``docs/events.md``;
* ``python -m fw_contracts_docs`` (``make docs``) writes them; ``--check`` only compares.
"""
