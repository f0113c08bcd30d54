/* Prints the size of every struct a minor has grown, as the header it is compiled against
 * lays them out: "<struct> <sizeof>" per line. */
#include <stdio.h>

#include "steward_abi.h"

int main(void) {
    printf("stw_step_call %zu\n", sizeof(stw_step_call));
    printf("stw_model_request %zu\n", sizeof(stw_model_request));
    printf("stw_plugin %zu\n", sizeof(stw_plugin));
    return 0;
}
