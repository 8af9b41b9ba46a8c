# rdma_guest.sh: guest-side helpers for the NVMe/RDMA interop tests (source after lib.sh, inside vmrun).
#   rdma_rxe_setup   soft-RoCE on a veth pair made in the guest: rxe0 on va (10.99.0.1/24), vb (10.99.0.2/24).
#                    RDMA on lo does not work (rxe cannot resolve a route there), so both ends of a test use
#                    va's own address, 10.99.0.1, through the one rxe device. Never leaves the VM.

RDMA_ADDR=10.99.0.1

rdma_rxe_setup() {
  modprobe rdma_rxe
  modprobe veth
  ip link add va type veth peer name vb
  ip addr add "$RDMA_ADDR/24" dev va
  ip addr add 10.99.0.2/24 dev vb
  ip link set va up
  ip link set vb up
  rdma link add rxe0 type rxe netdev va
  wait_for "[[ -e /sys/class/infiniband/rxe0 ]]" 10
}
