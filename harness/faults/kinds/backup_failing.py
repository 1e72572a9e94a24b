"""``backup_failing``: the backup job's runs fail (harness.faults.service.BackupFailingFault)."""

from harness.faults.kinds.schema import SERVICE, FaultKind, Param, non_negative
from harness.faults.service import BackupFailingFault

KIND = FaultKind(
    name="backup_failing", group=SERVICE, service="backup",
    doc="make the backup job's runs fail; restored at the end",
    params={"last_success_age_seconds": Param(float, check=non_negative,
                                              doc="also backdate the last success by this many seconds "
                                                  "(default: leave it)")},
    build=lambda faults, target, params, fault_id: BackupFailingFault(
        faults.stack, fault_id=fault_id, session=faults.session, **params),
    example={"kind": "backup_failing", "start": "1m", "duration": "10m",
             "params": {"last_success_age_seconds": 90000}},
)
