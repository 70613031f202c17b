"""KVM/QEMU hosts through libvirt (``qemu:///system``, ``qemu+ssh://``, ``test:///...``).

``driver.LibvirtDriver`` is the ``HypervisorDriver``; ``domain_xml`` and ``seed`` are
pure helpers, ``storage`` manages pools and volumes, ``connection`` opens connections
and translates libvirt errors. Importing this package does not import libvirt.
"""
