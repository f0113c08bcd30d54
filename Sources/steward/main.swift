import StewardCLI

await StewardCommand.runMain()
