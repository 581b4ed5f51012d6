"""lunarsite.firmware_bridge: the serial link to a physical rover (wire protocol, serial
rover, reference firmware, virtual rover). Its contents arrive with the firmware issue.
"""
