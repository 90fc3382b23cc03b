// Services reach boxes through the driver.
import "../drivers/driver.ts";
import "../util/retry.ts";
export {};
